"""The ECR-compatible JSON API (AWS JSON 1.1 on POST /), for stock boto3 and the AWS CLI."""
