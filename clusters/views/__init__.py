"""Pages of the clusters app, one module per area: clusters (list, wizard, detail), topics
(topics and the message browser), consumer_groups, access (keys, policies, ACLs) and
throughput."""
