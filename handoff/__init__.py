"""Human handoff: its rules (domain/), its tables (store/), the action-server side
(action_server/), the bridge process (bridge/) and the agent CLI (agent_cli.py)."""
