"""The part of handoff that runs inside the action server: escalation signals from a tracker."""
