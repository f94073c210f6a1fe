"""The finance bureau's dashboard: `/bureau/`, behind an ops sign-in (API.md v1.1)."""
