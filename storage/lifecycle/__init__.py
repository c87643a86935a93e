"""ECR lifecycle policies: the policy document (policy), the pure evaluator (evaluate) and
applying it to a repository's images (runner)."""
