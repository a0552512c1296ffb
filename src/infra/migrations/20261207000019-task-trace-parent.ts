import { Migration } from '@mikro-orm/migrations';

/**
 * The `traceparent` of the span of the request that scheduled a task (set only while traces are
 * exported), so the span of each run of the task links to that request's trace.
 */
export class Migration20261207000019TaskTraceParent extends Migration {
  async up(): Promise<void> {
    this.addSql('ALTER TABLE scheduled_tasks ADD COLUMN trace_parent text');
  }

  async down(): Promise<void> {
    this.addSql('ALTER TABLE scheduled_tasks DROP COLUMN trace_parent');
  }
}
