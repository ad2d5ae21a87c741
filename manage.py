#!/usr/bin/env python
import os
import sys

# Commands that serve requests: these need the real SECRET_KEY (sessions, CSRF,
# password resets are signed with it). Every other command (migrate, seed_models,
# makemigrations, rollout, ...) signs nothing that outlives it, so it may run
# without one; config/settings.py then uses a random key for that process only.
# The mark is set on the config package, in this process only: an environment
# variable would leak into a shell and let a web server start without a key.
SERVING_COMMANDS = {"runserver", "runserver_plus", "testserver"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in SERVING_COMMANDS:
        import config

        config.ONE_OFF_COMMAND = True
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
