"""The DAG's path through both modules: key from Secrets Manager (moto) -> SSH (sshd) -> commands."""

from __future__ import annotations

import aws_secrets_utils
import gpu_ssh_utils


def test_key_from_secret_opens_ssh_and_runs_whoami(ssh_target, sm_client, ssh_key_secret_arn):
    key_text = aws_secrets_utils.get_secret(ssh_key_secret_arn, client=sm_client)
    assert gpu_ssh_utils.key_fingerprint(key_text) == gpu_ssh_utils.key_fingerprint(ssh_target.client_key_text)
    with gpu_ssh_utils.GpuSSHClient(
        ssh_target.host, ssh_target.port, ssh_target.user, key_text, ssh_target.host_public_key
    ) as ssh:
        assert ssh.run(["whoami"]).stdout.strip() == ssh_target.user
        workspace = ssh.run(["mktemp", "-d"]).stdout.strip()
        try:
            ssh.run(["mkdir", "-p", f"{workspace}/cicd-test/www"])
            ssh.upload(b"a: 1\nb: two\nc: 3.5\nd: true\n", f"{workspace}/cicd-test/www/version.yaml", mode=0o644)
            text = ssh.read_text(f"{workspace}/cicd-test/www/version.yaml", max_bytes=65536)
        finally:
            ssh.run(["rm", "-rf", "--", workspace])
        metrics = ssh.metrics.to_dict()
    assert text.startswith("a: 1\n")
    assert metrics["commands_run"] == 4 and metrics["connect_attempts"] == 1 and metrics["connect_seconds"] > 0


def test_secret_arn_is_valid(ssh_key_secret_arn):
    assert aws_secrets_utils.is_secrets_manager_arn(ssh_key_secret_arn)
