import {describe, expect, it} from 'vitest'
import {brownDocuments, brownSampleIds, detokenize, renderBrownText} from '../../src/data/brown.js'

describe('Brown corpus', () => {
  const docs = brownDocuments()

  it('has 500 documents in the package order, ~6 MB of text', () => {
    expect(docs.length).toBe(500)
    expect(docs[0].id).toBe('ca01')
    expect(docs[0].category).toBe('news')
    expect(docs[499].id).toBe('cr09')
    expect(brownSampleIds().map((s) => s.id)).toEqual(docs.map((d) => d.id))
    const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0)
    expect(bytes).toBeGreaterThan(5_500_000)
    expect(bytes).toBeLessThan(6_500_000)
  })

  it('renders the first sentence as printed English', () => {
    expect(docs[0].text.split('\n')[0]).toBe(
      'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
    )
    expect(docs[0].text.split('\n')[1]).toBe(
      'The jury further said in term-end presentments that the City Executive Committee, which had over-all charge of the election, "deserves the praise and thanks of the City of Atlanta" for the manner in which the election was conducted.',
    )
  })

  it('has no tags, doubled marks or stray spaces before punctuation', () => {
    const all = docs.map((d) => d.text).join('\n')
    expect(all).not.toMatch(/\w\/(at|nn|vbd|in) \w+\/(at|nn|vbd|in)\b/) // two tagged words in a row
    expect(all).not.toMatch(/ [,.;:?!](\s|$)/)
    expect(all).not.toMatch(/\?\?|;;/)
    expect(all).not.toContain('``')
  })
})

describe('detokenize', () => {
  it('attaches punctuation, clitics, brackets and quotes', () => {
    expect(detokenize(['He', 'said', ',', '``', 'I', 'do', "n't", 'know', "''", '(', 'really', ')', '.'])).toBe('He said, "I don\'t know" (really).')
    expect(detokenize(['John', "'s", 'hat', 'costs', '$', '5', ';', 'ok', '?', '?'])).toBe("John's hat costs $5; ok?")
    expect(detokenize(['a', "'", 'pro', "'", 'letter'])).toBe("a 'pro' letter")
    expect(detokenize(['Allen', 'Jr.', '.'])).toBe('Allen Jr.')
    expect(detokenize(['war', '--', 'peace'])).toBe('war -- peace')
  })

  it('keeps paragraphs (tab-indented lines) on separate lines', () => {
    const raw = '\n\n\tOne/cd ./.\nTwo/cd ./.\n\n\n\tThree/cd !/. !/.\n'
    expect(renderBrownText(raw)).toBe('One. Two.\nThree!')
  })
})
