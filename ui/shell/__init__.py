"""What every screen stands on: the frame, widgets, outcomes, cached reads, sign-in and text formatting."""
