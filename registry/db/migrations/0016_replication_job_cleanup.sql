-- The jobs of deleted executions and tasks are deleted after the rows are gone. Deleting them
-- before (0011's BEFORE DELETE trigger) set the rows' job_id to NULL through the foreign key
-- while the row was being deleted, which PostgreSQL refuses ("tuple to be deleted was already
-- modified"): deleting a policy whose executions had tasks failed.
DROP TRIGGER replication_execution_deleted ON replication_executions;
DROP FUNCTION replication_execution_deleted();

CREATE FUNCTION replication_rows_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM jobs WHERE id IN (SELECT job_id FROM gone WHERE job_id IS NOT NULL);
    RETURN NULL;
END;
$$;

CREATE TRIGGER replication_executions_deleted AFTER DELETE ON replication_executions
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION replication_rows_deleted();
CREATE TRIGGER replication_tasks_deleted AFTER DELETE ON replication_tasks
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION replication_rows_deleted();
