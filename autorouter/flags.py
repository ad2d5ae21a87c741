"""The router's rollout flag: which subjects route with the database config instead of the defaults."""

ROUTER_CONFIG_FLAG = "use_db_router_config"
