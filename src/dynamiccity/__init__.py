"""DynamicCity: 4D semantic occupancy generation."""
