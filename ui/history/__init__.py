"""The Sync history screen: operations, their detail and rollback, delivery metrics and report."""
