import { describe, expect, it } from '@jest/globals'
import type { Download } from '../../src/downloads-api.js'
import type { Artifact } from '../../src/files.js'
import { makePlan } from '../../src/plan.js'

const artifact = (name: string): Artifact => ({
  path: `/ws/dist/${name}`,
  name,
  size: 10,
  contentType: 'application/zip'
})

const download = (id: number, name: string): Download => ({
  id,
  name,
  description: '',
  size: 10,
  contentType: 'application/zip',
  url: `https://api.github.com/repos/o/r/downloads/${id}`,
  htmlUrl: `https://github.com/downloads/o/r/${name}`
})

const files = ['a.zip', 'b.zip', 'c.zip', 'd.zip'].map(artifact)
const existing = [download(7, 'b.zip'), download(8, 'other.zip'), download(9, 'd.zip')]

describe('makePlan', () => {
  it('creates every file when nothing clashes', () => {
    const plan = makePlan(files, [download(1, 'unrelated.zip')], false, 'o/r')
    expect(plan).toEqual(files.map((a) => ({ artifact: a, replaces: undefined })))
  })

  it('without replace-existing, stops with one error listing every clash', () => {
    expect(() => makePlan(files, existing, false, 'o/r')).toThrow(
      "2 downloads already exist in o/r with the same name: b.zip, d.zip. Nothing was changed. Set 'replace-existing: true' to replace them, or rename the files."
    )
  })

  it('says "already exists" for a single clash', () => {
    expect(() => makePlan(files, [download(7, 'b.zip')], false, 'o/r')).toThrow(
      /^1 download already exists in o\/r with the same name: b\.zip\. /
    )
  })

  it('with replace-existing, marks which download each file replaces', () => {
    const plan = makePlan(files, existing, true, 'o/r')
    expect(plan.map((item) => [item.artifact.name, item.replaces?.id])).toEqual([
      ['a.zip', undefined],
      ['b.zip', 7],
      ['c.zip', undefined],
      ['d.zip', 9]
    ])
    expect(plan[1].replaces).toBe(existing[0])
  })
})
