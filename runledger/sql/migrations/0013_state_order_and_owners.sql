-- Whether a state of an object is older than another, by resourceVersion, as the agent decides it
-- (runledger.store.writer.revision): a resourceVersion is an etcd revision when it is a decimal
-- int64; anything else (absent, opaque text, digits past int64) orders nothing. Compared as text
-- padded to 19 digits, so no value, however long or odd, makes a cast fail.
CREATE FUNCTION resource_version_is_older(incoming text, stored text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        CASE WHEN incoming ~ '^[0-9]{1,19}$' AND stored ~ '^[0-9]{1,19}$'
                  AND lpad(incoming, 19, '0') COLLATE "C" <= '9223372036854775807'
                  AND lpad(stored, 19, '0') COLLATE "C" <= '9223372036854775807'
             THEN lpad(incoming, 19, '0') COLLATE "C" < lpad(stored, 19, '0') END,
        false)
$$;

-- A pod names its run by the workflow uid of its owner reference; a pod of another namespace or
-- workflow under the same uid is someone else's (a pod can be stored before its run is), so
-- v_steps shows only the pods of the run's own namespace and workflow.
CREATE OR REPLACE VIEW v_steps AS
SELECT s.run_id,
       r.namespace,
       r.pipeline_name,
       r.name AS run_name,
       r.sort_at AS run_created_at,
       s.id,
       s.name,
       s.display_name,
       s.type,
       s.template,
       s.phase,
       s.started_at,
       s.finished_at,
       extract(epoch FROM (s.finished_at - s.started_at))::double precision AS duration_seconds,
       coalesce(s.exit_code, p.exit_code) AS exit_code,
       coalesce(s.pod_name, p.pod_name) AS pod_name,
       p.image,
       p.termination_reason,
       p.restart_count,
       coalesce(p.host_node, s.host_node) AS host_node,
       s.message
FROM steps s
LEFT JOIN runs r ON r.id = s.run_id
LEFT JOIN step_pods p ON p.run_id = s.run_id AND p.node_id = s.id
    AND p.namespace = r.namespace AND p.workflow_name = r.name;
