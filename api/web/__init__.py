"""The web app: server-rendered pages for approvers, process designers and admins (issue 5)."""
