/*
 * Settings an executor needs before anything runs: checked at launch so that a cloud run
 * fails in a second with the option to set, not after its first submission.
 */
class LaunchChecks {

    // profile: Nextflow's workflow.profile ('test,docker'); params: the run's parameters.
    static List<String> problems(String profile, Map params) {
        def on = (profile ?: '').tokenize(',').collect { p -> p.trim() }
        def problems = []
        if ('awsbatch' in on && !params.queue) {
            problems << '-profile awsbatch needs --queue, the AWS Batch job queue of the CPU tasks (and --gpu_queue for -profile gpu)'
        }
        if ('awsbatch' in on && 'gpu' in on && !params.gpu_queue) {
            problems << '-profile awsbatch,gpu needs --gpu_queue, the AWS Batch job queue with GPU instances (GPU jobs in the CPU queue wait forever)'
        }
        if ('google' in on && !params.google_project) {
            problems << '-profile google needs --google_project, the Google Cloud project ID that runs the Batch jobs'
        }
        if ('google' in on && 'gpu' in on && !params.gpu_type) {
            problems << '-profile google,gpu needs --gpu_type, the accelerator type (e.g. nvidia-l4)'
        }
        // conda is the route without an engine: beside one, its environment's host path would be activated
        // inside the container
        def engines = on.findAll { p -> p in ['docker', 'singularity', 'apptainer', 'conda'] }
        if (engines.size() > 1) {
            problems << "-profile ${engines.join(',')}: pick one container engine, or conda"
        }
        // AWS Batch and Google Batch run every task in its container image, on machines that have neither the
        // conda environments (made where Nextflow runs) nor the pipeline's checkout the conda profile reads
        def clouds = on.findAll { p -> p in ['awsbatch', 'google'] }
        if ('conda' in on && !clouds.isEmpty()) {
            problems << "-profile ${clouds.join(',')},conda: AWS Batch and Google Batch run every task in a container image; use docker there, not conda"
        }
        problems
    }
}
