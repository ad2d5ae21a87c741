# Set to True by manage.py for commands that serve nothing (see config/settings.py).
ONE_OFF_COMMAND = False
