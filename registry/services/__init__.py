"""Domain operations shared by the HTTP routes and the background jobs. No HTTP here."""
