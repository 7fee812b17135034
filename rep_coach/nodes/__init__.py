"""ROS 2 nodes: thin wiring of topics and parameters to the core."""
