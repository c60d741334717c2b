/** The PostgreSQL server the database tests use: DATABASE_URL (set by .ci/run), or none. */
export function testDatabaseUrl(): string | undefined {
  const url = process.env.DATABASE_URL;
  return url && url.trim() !== '' ? url : undefined;
}
