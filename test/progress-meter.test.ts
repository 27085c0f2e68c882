import t from 'tap'
import { mib, progressMeter } from '../forensics/progress-meter.js'

t.test('a meter without a total gives its last line on done(), once', async (t) => {
  const lines: string[] = []
  let clock = 0
  const meter = progressMeter((l) => lines.push(l), (s) => `${s.items} item(s), ${mib(s.bytes)}`, { now: () => clock })
  meter.done()
  t.same(lines, [], 'nothing before the first item')
  meter.add(2 ** 19)
  clock = 10
  meter.add(2 ** 19)
  meter.done()
  meter.done()
  t.same(lines, ['1 item(s), 0.5 MiB', '2 item(s), 1.0 MiB'])
})
