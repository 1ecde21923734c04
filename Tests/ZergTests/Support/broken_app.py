import module_that_does_not_exist  # noqa: F401  (the app-load-failure test)
