/**
 * How MWAA treats requirements.txt, one definition for the generator (what it writes), the local
 * stack (what its control plane checks) and their tests.
 *
 * MWAA's image (amazon-mwaa-docker-images, `mwaa/utils/user_requirements.py`) installs the file
 * with `pip install -r requirements.txt`, and adds `-c <its own constraints file>` unless some
 * line of the file contains "-c " or "--constraint " anywhere (a regular-expression search, so
 * a commented-out constraint counts too, which AWS means as a way to opt out). pip itself reads
 * more forms (`-cURL`, `--constraint=URL`): with those MWAA adds its file as well, and pip applies
 * both constraint files.
 */

/** The constraint file Airflow publishes for a version and Python, as MWAA's user guide names it. */
export function airflowConstraintUrl(airflowVersion: string, pythonVersion: string): string {
  return `https://raw.githubusercontent.com/apache/airflow/constraints-${airflowVersion}/constraints-${pythonVersion}.txt`;
}

/** Airflow's constraint file URLs: the Airflow version and the Python version they are for. */
export const AIRFLOW_CONSTRAINT_URL =
  /^https:\/\/raw\.githubusercontent\.com\/apache\/airflow\/constraints-([0-9][0-9.]*)\/constraints-([0-9]+\.[0-9]+)\.txt$/;

/** What MWAA searches each line for. Neither alternative holds a line break, so one search over the whole text gives the same answer as one per line. */
const MWAA_CONSTRAINT_MARK = /-c |--constraint /;

/** True when MWAA takes the file as constrained and adds no constraint of its own. */
export function mwaaSeesConstraint(text: string): boolean {
  return MWAA_CONSTRAINT_MARK.test(text);
}
