#!/usr/bin/env nextflow
/*
 * Pixel2Gene: 8 µm gene-expression maps from H&E histology.
 * The steps are the bin/ tools of this repository; see README.md.
 */
nextflow.enable.dsl = 2

include { PIXEL2GENE } from './workflows/pixel2gene'

workflow {
    if (!params.input) {
        error "Give a samplesheet with --input (columns: sample,role,prefix; see assets/samplesheet.csv)"
    }
    PIXEL2GENE(params.input)
}
