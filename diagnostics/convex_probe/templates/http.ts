import { httpRouter } from "convex/server";
import { registerFcpDoctorRoutes } from "./fcpDoctorHttp";

const http = httpRouter();
registerFcpDoctorRoutes(http);
export default http;
