"""The Snapshots screen: take, list, show and compare environment snapshots; promote one to an environment, restore
an environment to one, or schedule either (release trains, issue 24)."""
