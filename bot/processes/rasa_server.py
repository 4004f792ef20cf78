"""`rasa run` with the API token from the environment, not from the command line.

Rasa 3.6 takes its HTTP API token only as `--auth-token` (rasa/cli/arguments/run.py; no
environment variable in rasa/cli/run.py or rasa/__main__.py), and a command line is public:
any user on the host reads it in `ps` or /proc/<pid>/cmdline. So the stack starts Rasa as

    python -m bot.processes.rasa_server run --enable-api --interface ... (no token)

and this module adds `--auth-token $RASA_TOKEN` to the arguments *inside* the process before
calling Rasa's own CLI entry point (what `.venv/bin/rasa` does). Python keeps sys.argv to
itself: /proc/<pid>/cmdline still shows the command above. The environment, where the token
comes from, is readable only by the process's own user (and root), like its memory.

It is also where the Rasa server reads its settings, once: Rasa builds the channel connectors
itself (`from_credentials`), and they take theirs from `bot.settings.process_settings()`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from bot.settings import Settings, use_process_settings

TOKEN_VARIABLE = "RASA_TOKEN"


class MissingToken(SystemExit):
    pass


def rasa_argv(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The full `rasa ...` argv: `args` plus the token, for `rasa run` with the API on."""
    argv = ["rasa", *args]
    if list(args[:1]) == ["run"] and "--enable-api" in args:
        if any(a == "--auth-token" or a.startswith("--auth-token=") for a in args):
            raise MissingToken(
                "rasa_server: pass the token in RASA_TOKEN, not --auth-token (ps shows it)"
            )
        token = env.get(TOKEN_VARIABLE, "")
        if not token:
            raise MissingToken(
                f"rasa_server: {TOKEN_VARIABLE} is empty; Rasa's HTTP API never runs open"
            )
        # Last, so Rasa never mistakes a trailing path for the model (its CLI checks argv[-2]).
        argv += ["--auth-token", token]
    return argv


def main() -> None:
    settings = Settings.from_env()
    use_process_settings(settings)
    sys.argv = rasa_argv(sys.argv[1:], {TOKEN_VARIABLE: settings.rasa_token})
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
