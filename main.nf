#!/usr/bin/env nextflow
/*
 * Pixel2Gene: 8 µm gene-expression maps from H&E histology.
 * The steps are the bin/ tools of this repository; see README.md and docs/usage.md.
 */
include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'
include { PIXEL2GENE } from './workflows/pixel2gene'

workflow {
    validateParameters()
    log.info paramsSummaryLog(workflow)
    def launch = LaunchChecks.problems(workflow.profile, params)
    if (launch) {
        error(launch.join('\n'))
    }
    // Each row as a map of its columns (every column of assets/schema_input.json is a meta field).
    def rows = samplesheetToList(params.input, "${projectDir}/assets/schema_input.json")
        .collect { row -> row[0] }
    def sheet = Samplesheet.read(rows, file(params.input).toUriString(), { path -> file(path).isDirectory() })
    def exists = { path -> file(path).exists() }
    def problems = sheet.errors ?: Samplesheet.missing(sheet.samples, exists, { prefix -> files("${prefix}*").size() > 0 })
    // then, in 10x output folders that exist, the files p2g-import reads: found now, not when its task fails
    problems = problems ?: TenxInputs.missing(sheet.samples, exists)
    if (problems) {
        error("Samplesheet ${params.input}:\n  " + problems.join('\n  '))
    }
    PIXEL2GENE(channel.fromList(sheet.samples))
}
