"""Post-service ratings (公述民评): rating links (posters and single-use) and the ratings."""
