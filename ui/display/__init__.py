"""The Display screen: the pipeline on a wall screen, refreshed from the caches."""
