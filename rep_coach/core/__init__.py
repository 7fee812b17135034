"""ROS-free core of rep_coach: plain Python and numpy, unit-testable and reused offline."""
