"""Push to deploy: deploy rules turn pushes into deployments of the bundled deployer.

- rules.py: managing rules (the CLI and /api/v1/deploy-rules use it);
- runs.py: the `deploy-rules` subscriber (hooks/subscribers.py) and the state machine of a run,
  from the push through the scan gate and the approval to the deployment's outcome and the tag
  revert after a rollback; it calls the deployer (deployer/store.py: deploy_image), never the
  other way round: the deployer's state changes come back as events through the outbox;
- gate.py: the scan gate, a pure function;
- history.py: one timeline per deployment;
- events.py: the deploy.blocked event, and deployments on EventBridge.
"""
