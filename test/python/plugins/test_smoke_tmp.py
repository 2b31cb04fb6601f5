import gpu_ssh_utils
def test_smoke(ssh_client, ssh_target, remote_tmp):
    r = ssh_client.run(["whoami"])
    assert r.stdout.strip() == ssh_target.user
    r = ssh_client.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    print(r)
    assert r.exit_code == 3 and r.stdout == "out\n" and r.stderr == "err\n"
    ssh_client.upload(b"hello", remote_tmp + "/f")
    assert ssh_client.download(remote_tmp + "/f") == b"hello"
    print(ssh_client.metrics)
