"""SQL files shipped with the package: numbered migrations and named query blocks."""
