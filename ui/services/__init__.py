"""The Services screen: the services of an environment, the comparison and the drift report."""
