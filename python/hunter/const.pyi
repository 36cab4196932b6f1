SITE_PACKAGES_PATHS: tuple[str, ...]
STDLIB_PATHS: tuple[str, ...]
SYS_PREFIX_PATHS: tuple[str, ...]
