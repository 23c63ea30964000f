"""Chat flows of post-service ratings (公述民评): a person rates a service through a poster's or
a single-use link; admins and liaisons get the poster and make single-use links.
"""
