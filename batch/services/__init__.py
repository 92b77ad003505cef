"""The entry points the API, the admin and the tasks call; they return domain objects."""
