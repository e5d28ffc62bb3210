"""The certification workflow (DESIGN O1): submit, review, approve into the public catalog."""
