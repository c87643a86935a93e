"""The CloudWatch Logs API subset (`Logs_20140328.*`) that `aws logs get-log-events`,
`filter-log-events` and `tail` use, over the output the deployer keeps for awslogs containers."""
