"""S3 fixtures (filled in by the S3 test module's author)."""
