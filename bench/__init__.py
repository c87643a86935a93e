"""Side-by-side benchmark of Cais against CNCF Distribution (Debian's docker-registry)."""
