"""The ECS-compatible API (`AmazonEC2ContainerServiceV20141113.*`) over the bundled deployer."""
