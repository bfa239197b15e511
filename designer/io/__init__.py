"""Project files: versioned JSON, validated on load, saved atomically."""
