"""AWS JSON 1.1 services on `POST /` (ECR, ECS, CloudWatch Logs): one dispatcher, driven by
the botocore models, with SigV4 authentication and AWS's error shape."""
