"""The audit trail: every action that changes what the service holds or who may use it, over HTTP
(api.audit.http) and from the `rag` command (cli.audited), in the state database's table `audit`."""
