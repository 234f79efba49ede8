"""The catalogue screens: sites, environments and app instances, the demo and the first-visit dialog."""
