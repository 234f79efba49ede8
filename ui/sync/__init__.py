"""The sync dialog, its progress and its actions, shared by the screens that sync or roll back."""
