"""Who talks to the simulated apiserver: control plane, controllers, operators, people and probes."""

from __future__ import annotations

import random

from ..request import Client, authz_annotations
from ..shapes import client_go_agent, hex_digits, name_suffix, rbac_reason, sorted_map, system_reason, uuid4
from ..vocabulary import HUMANS, KCM_CONTROLLERS, OPERATORS


class Clients:
    """Every client of one seed, with its user JSON encoded once.

    Built from the seeded RNG in a fixed order: the same seed gives the same users,
    uids, addresses and leases.
    """

    def __init__(self, rng: random.Random, region: str, control_plane: list[str]) -> None:
        agent = client_go_agent
        leader_ip = rng.choice(control_plane)
        self.kcm = Client(
            {"username": "system:kube-controller-manager", "groups": ["system:authenticated"]},
            agent("kube-controller-manager", "/leader-election"),
            [leader_ip],
            authz_annotations("allow", system_reason("system:kube-controller-manager")),
        )
        self.scheduler = Client(
            {"username": "system:kube-scheduler", "groups": ["system:authenticated"]},
            agent("kube-scheduler", "/scheduler"),
            [rng.choice(control_plane)],
            authz_annotations("allow", system_reason("system:kube-scheduler")),
        )
        self.apiservers = [
            (
                f"apiserver-{hex_digits(rng, 26)}",
                Client(
                    {
                        "username": "system:apiserver",
                        "uid": uuid4(rng),
                        "groups": ["system:authenticated", "system:masters"],
                    },
                    agent("kube-apiserver"),
                    [ip],
                    authz_annotations("allow", ""),
                ),
            )
            for ip in control_plane
        ]
        self.controllers: dict[str, Client] = {}
        for sa in KCM_CONTROLLERS:
            self.controllers[sa] = Client(
                {
                    "username": f"system:serviceaccount:kube-system:{sa}",
                    "uid": uuid4(rng),
                    "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
                },
                agent("kube-controller-manager", f"/system:serviceaccount:kube-system:{sa}"),
                [leader_ip],
                authz_annotations(
                    "allow",
                    rbac_reason(
                        f"system:controller:{sa}", f"system:controller:{sa}", f'ServiceAccount "{sa}/kube-system"'
                    ),
                ),
            )
        self.controllers["kube-scheduler"] = self.scheduler
        for namespace, sa, user_agent in OPERATORS:
            pod = f"{sa}-{name_suffix(rng, 10)}-{name_suffix(rng)}"
            # Bound projected tokens carry the pod and node they were issued to.
            extra = sorted_map(
                {
                    "authentication.kubernetes.io/credential-id": [f"JTI={uuid4(rng)}"],
                    "authentication.kubernetes.io/node-name": [
                        f"ip-10-0-{rng.randrange(256)}-{rng.randrange(256)}.{region}.compute.internal"
                    ],
                    "authentication.kubernetes.io/node-uid": [uuid4(rng)],
                    "authentication.kubernetes.io/pod-name": [pod],
                    "authentication.kubernetes.io/pod-uid": [uuid4(rng)],
                }
            )
            self.controllers[sa] = Client(
                {
                    "username": f"system:serviceaccount:{namespace}:{sa}",
                    "uid": uuid4(rng),
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
                    "extra": extra,
                },
                user_agent,
                [f"10.244.{rng.randrange(256)}.{rng.randrange(2, 254)}"],
                authz_annotations("allow", rbac_reason(sa, sa, f'ServiceAccount "{sa}/{namespace}"')),
            )
        self.argocd_server = Client(
            {
                "username": "system:serviceaccount:argocd:argocd-server",
                "uid": uuid4(rng),
                "groups": ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"],
            },
            "argocd-server/v2.12.4 (linux/amd64)",
            [f"10.244.{rng.randrange(256)}.{rng.randrange(2, 254)}"],
            authz_annotations(
                "allow", rbac_reason("argocd-server", "argocd-server", 'ServiceAccount "argocd-server/argocd"')
            ),
        )
        self.deployer = Client(
            {
                "username": "system:serviceaccount:ci:deployer",
                "uid": uuid4(rng),
                "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"],
            },
            "helm/v3.16.2 (linux/amd64) kubernetes/unknown",
            [f"203.0.113.{rng.randrange(2, 254)}"],
            authz_annotations("allow", rbac_reason("ci-deployer", "cluster-admin", 'ServiceAccount "deployer/ci"')),
        )
        self.humans: list[Client] = []
        for username, groups, platform in HUMANS:
            office = f"198.51.100.{rng.randrange(2, 254)}"
            # Some people come through a proxy, which puts the X-Forwarded-For chain first.
            ips = [office, f"10.0.0.{rng.randrange(20, 40)}"] if rng.random() < 0.5 else [office]
            reason = rbac_reason(groups[0], "cluster-admin" if "admin" in groups[0] else "edit", f'Group "{groups[0]}"')
            self.humans.append(
                Client(
                    {"username": username, "groups": list(groups)},
                    agent("kubectl", platform=platform),
                    ips,
                    authz_annotations("allow", reason),
                )
            )
        self.anonymous = [
            Client(
                {"username": "system:anonymous", "groups": ["system:unauthenticated"]},
                user_agent,
                [ip],
                authz_annotations(
                    "allow",
                    rbac_reason(
                        "system:public-info-viewer", "system:public-info-viewer", 'Group "system:unauthenticated"'
                    ),
                ),
            )
            for user_agent, ip in (
                ("kube-probe/1.31", "127.0.0.1"),
                ("ELB-HealthChecker/2.0", "10.0.1.17"),
                ("ELB-HealthChecker/2.0", "10.0.2.44"),
                ("Go-http-client/1.1", "10.0.0.10"),
                ("curl/8.5.0", "203.0.113.9"),
            )
        ]
        # Leader-election leases in kube-system: (name, holder, uid).
        self.leader_leases: list[tuple[str, Client, str]] = [
            ("kube-controller-manager", self.kcm, uuid4(rng)),
            ("kube-scheduler", self.scheduler, uuid4(rng)),
            ("cert-manager-controller", self.controllers["cert-manager"], uuid4(rng)),
            ("cluster-autoscaler", self.controllers["cluster-autoscaler"], uuid4(rng)),
            *((name, client, uuid4(rng)) for name, client in self.apiservers),
        ]
