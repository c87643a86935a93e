"""Authentication and access control: accounts, permission rules, the Docker token flow."""
