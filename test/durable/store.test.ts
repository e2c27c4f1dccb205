// The store's housekeeping against a real PostgreSQL: what the retention prunes and what it keeps.
import pg from 'pg'
import t from 'tap'
import { DurableStore } from '../../src/durable/store.js'
import { typedTextUpdate } from '../helpers/app.js'
import { startPostgres } from '../helpers/postgres.js'
import { quiet } from '../helpers/wait.js'

t.test('prune forgets finished updates past the retention, keeps pending ones and recent ones', async (t) => {
  const pgs = await startPostgres(t)
  if (pgs === undefined) return
  const url = await pgs.createDatabase()
  const store = new DurableStore(url, quiet)
  t.teardown(() => store.close())
  await store.migrate()
  for (let id = 1; id <= 6; id++) await store.store(typedTextUpdate('x', id, id))
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  // 1-3 received 49 h ago: 1 done, 2 failed, 3 still pending; 4-6 received now: 4 done.
  await client.query('update telegram_ingress.updates set received_at = now() - interval \'49 hours\' where update_id <= 3')
  await client.query('update telegram_ingress.updates set state = \'done\' where update_id in (1, 4)')
  await client.query('update telegram_ingress.updates set state = \'failed\' where update_id = 2')

  t.equal(await store.prune(48), 2, 'two rows removed')
  const { rows } = await client.query<{ update_id: string }>('select update_id from telegram_ingress.updates order by update_id')
  t.same(rows.map((r) => Number(r.update_id)), [3, 4, 5, 6], 'the pending one stays whatever its age; the recent ones stay')
  t.equal(await store.store(typedTextUpdate('x', 1, 1)), 'stored', 'a pruned update_id is new again (past Telegram\'s 24 h, it cannot be a redelivery)')
  t.equal(await store.store(typedTextUpdate('x', 4, 4)), 'duplicate', 'a recent one is still a redelivery')
})
