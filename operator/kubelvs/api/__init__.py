"""The API users write: models, enums, rules and manifest loading. Imports nothing else of kubelvs."""
